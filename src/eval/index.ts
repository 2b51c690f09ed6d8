/** Evaluation: RSICD, retrieval on any captioned set, zero-shot on any labelled set, model comparison, predictions files, ANN recall, labelled archives. */
export { evaluateRsicd, ZERO_SHOT_KS, RETRIEVAL_KS, type EvaluateRsicdOptions, type RsicdEvaluation, type RsicdReport } from './rsicd.js';
export { evaluateRetrieval, type EvaluateRetrievalOptions, type RetrievalEvaluation, type RetrievalReport } from './retrieval.js';
export { evaluateZeroShot, type EvaluateZeroShotOptions, type ZeroShotEvaluation, type ZeroShotReport } from './zero-shot-images.js';
export { compareReports, readReport, type ComparableReport, type Comparison, type ComparedMetric, type ComparedReport, type ComparedSection } from './compare.js';
export { readCaptionFile, parseKarpathyCaptions, DEFAULT_SPLIT, type CaptionFile, type CaptionFormat } from './captions.js';
export {
  bootstrapIntervals,
  pairedBootstrap,
  metricValues,
  DEFAULT_RESAMPLES,
  DEFAULT_BOOTSTRAP_SEED,
  type BootstrapOptions,
  type BootstrapSettings,
  type Interval,
  type MetricSet,
  type PairedDifference,
  type RatioMetric,
} from './bootstrap.js';
export type { RetrievalOutcomes, RetrievalSection, ZeroShotOutcomes, ZeroShotSection, ClassAccuracyWithInterval } from './outcomes.js';
export { TextEmbeddingCache, TEXT_CACHE_FOLDER } from './text-cache.js';
export type { TextEmbeddingStats } from './text-embeddings.js';
export {
  writeRsicdReport,
  writeRetrievalReport,
  writeZeroShotReport,
  writeLabelsReport,
  writeAnnReport,
  writeComparisonHtml,
  formatRsicdTable,
  formatRsicdMarkdown,
  formatRetrievalTable,
  formatZeroShotTable,
  formatAnnTable,
  formatComparisonTable,
  REPORT_FILES,
} from './report.js';
export {
  scorePredictions,
  parsePredictions,
  scoreParsedPredictions,
  formatPredictions,
  PREDICTION_KS,
  type ImagePrediction,
  type PredictionScores,
} from './predictions.js';
export { evaluateAnn, DEFAULT_ANN_EFS, type AnnReport, type AnnRow, type EvaluateAnnOptions } from './ann.js';
export { evaluateLabels, type EvaluateLabelsOptions, type LabelsReport } from './labels.js';
export {
  zeroShotScoresAtK,
  crossModalRecall,
  crossModalRecallFromRanks,
  textToImageRanks,
  imageToTextRanks,
  recallAtK,
  cosineScores,
  type ScoreMatrix,
  type ScoresAtK,
  type CrossModalRecall,
} from './metrics.js';
export { DEFAULT_PROMPT } from './prompts.js';
export type { EvalProgress } from './image-vectors.js';
export type { ClassAccuracy } from './zero-shot.js';
