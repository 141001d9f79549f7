"""Identity providers: the e-Gov auth server (/auth) and the GビズID OP (/gbizid/oauth)."""
