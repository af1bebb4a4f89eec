import { describeBadInput } from './bad-input.suite.js';

describeBadInput('postgres');
