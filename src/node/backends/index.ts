/** Task handlers a node can serve with out of the box. */
export * from "./echo.js"
export * from "./openai.js"
