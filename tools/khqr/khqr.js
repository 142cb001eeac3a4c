#!/usr/bin/env node
// The suite's independent KHQR check: NBC's own SDK (npm bakong-khqr), offline.
// stdin: a JSON array of KHQR strings; stdout: a JSON array, one {"valid", "decoded"} per code
// (decoded: BakongKHQR.decode's data, or null when the code does not verify).
// Many codes per call: starting node costs more than checking a code.
"use strict";
const { BakongKHQR } = require("bakong-khqr");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
    const codes = JSON.parse(input);
    const answers = codes.map((code) => {
        const valid = BakongKHQR.verify(code).isValid === true;
        return { valid, decoded: valid ? BakongKHQR.decode(code).data : null };
    });
    process.stdout.write(JSON.stringify(answers));
});
