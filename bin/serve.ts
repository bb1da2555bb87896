#!/usr/bin/env node
/** npm start: the local server over ./models (settings: see lambda/entry/local-server.ts and the README). */
import { main } from '../lambda/entry/local-server.ts';

await main();
