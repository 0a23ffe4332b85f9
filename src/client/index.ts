// Public Promise API of the client role; owned by the client work.
export {}
