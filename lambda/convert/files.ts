/**
 * The native model file names the registry converts (registry.ts's table holds a converter for each;
 * test/lambda/convert/files.test.ts keeps the two lists equal). On their own, with no converter code,
 * so a Lambda function, which serves staged conversions and never converts, knows the names without
 * loading the converters and protobufjs at cold start.
 */
export const NATIVE_MODEL_FILES: readonly string[] = ['model.json', 'model.ubj', 'model.txt', 'model.pmml'];
