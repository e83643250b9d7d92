// The test environment (environment.ts) for Stryker's jest runner, which loads the configured environment
// with Node's own require: on Node 24 that strips the types but leaves the ES module syntax, so the file is
// transpiled here the way Jest's transform does it (stryker.config.mjs, npm run test:mutation).
require('../../scripts/shared/swc-register.js');
module.exports = require('./environment.ts');
