export { StoryImagesProvider, useStoryImagesClient } from "./context.js";
export { GenerationProgress, type GenerationProgressProps } from "./GenerationProgress.js";
export {
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_POLL_INTERVAL_MS,
  type MasterJobStatusOptions,
  storyImagesKeys,
  useCancelGeneration,
  useGenerateAllImagesAutomatically,
  useMasterJobStatus,
  useRetryGeneration,
} from "./hooks.js";
