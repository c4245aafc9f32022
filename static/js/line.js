// "Every line is busy": ask again, with the same choices, once the portal's Retry-After has passed.
// A POST (the form), not a reload: starting help is never a GET, and the place in line is the
// browser's guest session's, which the answer keeps.
const form = document.getElementById("line-form");
const seconds = Number(form.dataset.retryAfter) || 30;
setTimeout(() => form.requestSubmit(), seconds * 1000);
