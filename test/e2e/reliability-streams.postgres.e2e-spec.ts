import { describeReliabilityStreams } from './reliability-streams.suite.js';

describeReliabilityStreams('postgres');
