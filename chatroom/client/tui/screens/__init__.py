"""One module per screen: menu, register, login, chat."""
