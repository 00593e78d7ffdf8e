// ml-logistic-regression 2.0.0 ships no type declarations; this covers what the trainer uses.
declare module 'ml-logistic-regression' {
  import type { Matrix } from 'ml-matrix';

  /** One binary classifier: batch gradient ascent on the log-likelihood, no intercept of its own. */
  export interface TwoClassClassifier {
    numSteps: number;
    learningRate: number;
    weights: Matrix | null;
    train(features: Matrix, target: Matrix): void;
    testScores(features: Matrix): number[];
  }

  export default class LogisticRegression {
    constructor(options?: {
      numSteps?: number;
      learningRate?: number;
      classifiers?: unknown[];
      numberClasses?: number;
    });
    numSteps: number;
    learningRate: number;
    numberClasses: number;
    classifiers: TwoClassClassifier[];
    train(X: Matrix, Y: Matrix): void;
    predict(X: Matrix): number[];
    static load(model: {
      name: 'LogisticRegression';
      numSteps?: number;
      learningRate?: number;
      numberClasses: number;
      classifiers: { numSteps: number; learningRate: number; weights: number[][] | null }[];
    }): LogisticRegression;
    toJSON(): unknown;
  }
}
