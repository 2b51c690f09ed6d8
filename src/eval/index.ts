/** Evaluation: RSICD zero-shot top-k and cross-modal recall, predictions files, ANN recall, labelled archives. */
export { evaluateRsicd, ZERO_SHOT_KS, RETRIEVAL_KS, type EvaluateRsicdOptions, type RsicdEvaluation, type RsicdReport } from './rsicd.js';
export { writeRsicdReport, formatRsicdTable, formatRsicdMarkdown, REPORT_FILES } from './report.js';
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
