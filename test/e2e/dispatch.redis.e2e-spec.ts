import { describeDispatch } from './dispatch.suite.js';

describeDispatch('redis');
