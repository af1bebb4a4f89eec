import { describeObservability } from './observability.suite.js';

describeObservability('redis');
