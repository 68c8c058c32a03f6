"""The local Functions host and the Azurite launcher: what runs function_app.py off Azure."""
