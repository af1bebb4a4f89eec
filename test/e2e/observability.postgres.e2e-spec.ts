import { describeObservability } from './observability.suite.js';

describeObservability('postgres');
