// `npm run bench`: every benchmark in one run, each against a baseline measured in the same run.
// Benchmarks are not tests: they print figures and ratios and always exit 0 unless they crash.
const suites = [
  ["client", "./client.mjs"],
  ["node", "./node.mjs"],
  ["directory", "./directory.mjs"]
]
const only = process.argv.slice(2)
const results = {}
for (const [name, path] of suites) {
  if (only.length && !only.includes(name)) continue
  console.log(`\n=== ${name} ===`)
  const mod = await import(path)
  results[name] = await mod.run()
}
if (process.env.BENCH_JSON) console.log(JSON.stringify(results, null, 2))
