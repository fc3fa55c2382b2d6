// Lint for Hoist (issue 9): typescript-eslint's type-checked recommended rules, floating promises as
// errors, and the architecture as rules — agent/ and coordinator/ never import each other, the
// shared/<area>/ folders are entered through their index.ts, and no import cycles. Formatting is
// prettier's job (npm run format), so no stylistic rules here.
import { readdirSync } from "node:fs";
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX, createNodeResolver } from "eslint-plugin-import-x";
import globals from "globals";

/** The areas under shared/: every one is a folder with an index.ts that is its face. */
const sharedAreas = readdirSync(new URL("./shared/", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** A zone per area: from anywhere outside shared/<area>/, only shared/<area>/index.ts may be imported. */
const sharedFaceZones = sharedAreas.map((area) => ({
  target: ["./!(shared)/**/*", "./*.ts", `./shared/!(${area})/**/*`],
  from: `./shared/${area}`,
  except: ["./index.ts"],
  message: `import shared/${area}/index.ts, not a file behind it (add an export there if it is missing)`,
}));

export default tseslint.config(
  {
    ignores: ["node_modules/**", ".cache/**", "shared/proto/generated/**", "bench/results/**", "tmp/**", "dist/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "import-x": importX },
    settings: {
      // import-x only follows (and so only finds cycles through) files it knows how to parse.
      "import-x/extensions": [".ts", ".js", ".mjs"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/external-module-folders": ["node_modules", "node_modules/@types"],
      // Every relative import names its file with the .ts extension, so the node resolver finds it.
      "import-x/resolver-next": [createNodeResolver({ extensions: [".ts", ".js", ".mjs", ".json"] })],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // Off: an `async` function that implements a Promise-returning interface (bus handlers, test
      // doubles) is how this code turns a synchronous throw into a rejection; dropping `async` to
      // please the rule would change that.
      "@typescript-eslint/require-await": "off",
      // Passing on a value caught as `unknown` (reject(err) in a catch) is fine; literals are not.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      // `import { z }` makes the bundle (scripts/build-cli.mjs) build zod's whole namespace object,
      // with every locale (755 kB that every `hoist` command touching a schema loads, against 198 kB).
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportDeclaration[source.value='zod'][importKind!='type'] > ImportSpecifier[imported.name='z'][importKind!='type']",
          message: 'import * as z from "zod": `import { z }` pulls all of zod, locales included, into the CLI bundle',
        },
      ],
      "import-x/no-restricted-paths": [
        "error",
        {
          zones: [
            { target: "./agent", from: "./coordinator", message: "agent/ and coordinator/ never import each other; share through shared/" },
            { target: "./coordinator", from: "./agent", message: "agent/ and coordinator/ never import each other; share through shared/" },
            ...sharedFaceZones,
          ],
        },
      ],
    },
  },
  {
    // Tests and benchmarks read back JSON the product just wrote (state files, reports, KV values)
    // and assert on its fields; an `any` there fails at the assertion, so the no-unsafe-* family
    // would only add casts. no-floating-promises and every other rule stay on. (no-non-null-assertion
    // is not in the recommended set, so tests' `!` need no exemption.)
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      // Tests corrupt manifests and inventories on purpose; `any` is the honest type of that JSON.
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
  {
    // Plain JavaScript (this file, bin/hoist.mjs) is outside the TypeScript project.
    files: ["**/*.js", "**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
  {
    // The dashboard's page runs in the browser, as it is shipped (no build step).
    files: ["coordinator/dashboard/static/**/*.js"],
    languageOptions: { globals: globals.browser, sourceType: "script" },
  },
);
