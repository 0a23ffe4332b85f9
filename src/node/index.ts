// Public Promise API of the node role; owned by the node work.
export {}
