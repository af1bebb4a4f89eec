import { describeReliabilityTokens } from './reliability-tokens.suite.js';

describeReliabilityTokens('postgres');
