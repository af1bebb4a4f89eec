import { describeReliabilityAnswers } from './reliability-answers.suite.js';

describeReliabilityAnswers('postgres');
