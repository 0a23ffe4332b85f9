import { describe, expect, it } from "vitest"
import { main } from "../../examples/embedded-mesh.js"

describe("examples", () => {
  it("embedded-mesh: directory + node with a custom handler + client in one process", async () => {
    expect(await main("route me")).toBe("ROUTE ME")
  })
})
