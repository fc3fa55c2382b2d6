export { loadYamlFile, parseWithSchema, formatIssues } from "./load-yaml.ts";
