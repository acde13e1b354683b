from atfr_lightning.cli import main

main()
