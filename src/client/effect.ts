// Effect services and layers of the client role.
export {}
