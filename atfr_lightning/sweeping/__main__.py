from atfr_lightning.sweeping.main import entry

entry()
