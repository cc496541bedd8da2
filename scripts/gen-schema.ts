// npm run schema: regenerates schema/tollgate.schema.json from the zod config schema.
import { writeFileSync } from 'node:fs';
import { renderJsonSchema } from '../src/config/json-schema.js';

writeFileSync(new URL('../schema/tollgate.schema.json', import.meta.url), renderJsonSchema());
console.log('wrote schema/tollgate.schema.json');
