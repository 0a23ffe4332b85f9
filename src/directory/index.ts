// Public Promise API of the directory role; owned by the directory work.
export {}
