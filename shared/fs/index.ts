export { writeFileAtomic, writeJsonAtomic, fsyncDir } from "./atomic-write.ts";
export { readJsonIfExists } from "./read-json.ts";
