"""The ground floor: errors a user can make (one line each), where things live, the tasks as data, the config
field helpers and the one-line error wrapper. Imports nothing else of the package."""
