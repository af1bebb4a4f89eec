import { describeQueueFlow } from './queue-flow.suite.js';

describeQueueFlow('redis');
