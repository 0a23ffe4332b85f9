// Effect services and layers of the node role.
export {}
