// The answer letter's print button: a file of the portal's own, since the Content-Security-Policy
// refuses inline handlers (onclick="...").
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print-letter]")) {
    button.addEventListener("click", () => window.print());
  }
});
