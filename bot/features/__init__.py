"""Feature modules that add commands and daily jobs to the app: importing this package
registers each of them with `bot.app.register_feature`."""
