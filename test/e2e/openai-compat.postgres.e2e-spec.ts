import { describeOpenAiCompatibility } from './openai-compat.suite.js';

describeOpenAiCompatibility('postgres');
