import { describeWebhooks } from './webhooks.suite.js';

describeWebhooks('redis');
