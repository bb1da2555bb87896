/** The PMML model elements: those the converter takes, and every other one PMML 4.4 defines (refused, named). */
export const SUPPORTED_MODELS = ['RegressionModel', 'TreeModel', 'MiningModel', 'GeneralRegressionModel', 'NeuralNetwork', 'Scorecard'] as const;

export const MODEL_ELEMENTS = new Set([
  ...SUPPORTED_MODELS,
  'AnomalyDetectionModel', 'AssociationModel', 'BayesianNetworkModel', 'BaselineModel', 'ClusteringModel', 'GaussianProcessModel',
  'NaiveBayesModel', 'NearestNeighborModel', 'NeuralNetwork', 'RuleSetModel',
  'SequenceModel', 'SupportVectorMachineModel', 'TextModel', 'TimeSeriesModel',
]);
