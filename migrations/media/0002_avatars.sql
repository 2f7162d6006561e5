-- Avatar voice and video jobs (filled in by the avatar work).
SELECT 1;
