// Effect services and layers of the directory role.
export {}
