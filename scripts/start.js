'use strict';
// `npm start`: prints the help at once (without the build, which takes seconds), otherwise
// builds the pack and runs dist/demo/start.js in this process.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(fs.readFileSync(path.join(root, 'demo', 'start-usage.txt'), 'utf8'));
  process.exit(0);
}
require('./build.js');
require(path.join(root, 'dist', 'demo', 'start.js'));
