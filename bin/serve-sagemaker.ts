#!/usr/bin/env node
/** The SageMaker container's entry point (bundled into the GPU image), and `npm run start:sagemaker` locally. */
import { main } from '../lambda/entry/sagemaker-container.ts';

await main();
