// The landing page: the model's state from the public /health, and the server's own address in the examples.

const LOADING_RETRY_MS = 3000;

function describe(model) {
  if (model.status === "ready") {
    const where = [model.device, model.dtype].filter(Boolean).join(", ");
    return `Ready: ${model.name ?? "the model"}${where ? ` on ${where}` : ""}.`;
  }
  if (model.status === "loading") {
    return "Loading the model; speech requests answer 503 until it is ready.";
  }
  return `The model could not be loaded: ${model.error ?? "no reason given"}`;
}

async function showModelStatus(element) {
  try {
    const response = await fetch("/health", { headers: { Accept: "application/json" } });
    const model = (await response.json()).model ?? { status: "failed", error: `HTTP ${response.status}` };
    element.dataset.status = model.status;
    element.textContent = describe(model);
    if (model.status === "loading") {
      setTimeout(() => showModelStatus(element), LOADING_RETRY_MS);
    }
  } catch (error) {
    element.dataset.status = "unreachable";
    element.textContent = `The server did not answer /health (${error.message}).`;
  }
}

function showAddresses() {
  const base = `${window.location.origin}/v1`;
  document.getElementById("base-url").textContent = base;
  const example = document.getElementById("curl-example");
  example.textContent = example.textContent.replace("curl -s /v1/", `curl -s ${base}/`);
}

showAddresses();
showModelStatus(document.getElementById("model-status"));
