import { describeAsyncRequests } from './async-requests.suite.js';

describeAsyncRequests('postgres');
