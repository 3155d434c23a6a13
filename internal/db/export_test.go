package db

// Rebind exposes rebind to tests.
var Rebind = rebind
