// The console's shell: sign-in, language, the views behind #/... (portfolio, account, queue, ...).
import { call, setCsrf } from "./api.js";
import { installTooltip } from "./charts.js";
import { language, setLanguage, t, translateStatic } from "./i18n.js";
import { VIEWS } from "./views.js";

const $ = (id) => document.getElementById(id);
let who = null;

function show(signedIn) {
  $("sign-in").hidden = signedIn;
  $("nav").hidden = !signedIn;
  $("sign-out").hidden = !signedIn;
  $("who").textContent = signedIn ? `${who.name} · ${who.role}` : "";
  document.body.dataset.role = signedIn ? who.role : "";
}

async function route() {
  if (!who) return;
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "portfolio").split("/");
  const view = VIEWS[name] || VIEWS.portfolio;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.getAttribute("href") === `#/${name}`);
  const target = $("view");
  target.dataset.view = name;
  target.dataset.ready = "false";
  try {
    await view(target, rest.map(decodeURIComponent), who);
  } catch (error) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = `${t("failed")}: ${error.message}`;
    target.replaceChildren(p);
  }
  target.dataset.ready = "true";
}

function signedIn(answer) {
  who = answer;
  setCsrf(answer.csrf_token);
  show(true);
  route();
}

function signedOut() {
  who = null;
  setCsrf(null);
  $("view").replaceChildren();
  show(false);
}

async function start() {
  const select = $("lang");
  select.value = language();
  translateStatic();
  select.addEventListener("change", () => {
    setLanguage(select.value);
    translateStatic();
    route();
  });
  installTooltip($("tooltip"));
  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    try {
      const answer = await call("POST", "/console/session", { key: $("key").value });
      $("key").value = "";
      signedIn(answer);
    } catch (error) {
      $("sign-in-error").textContent = `${t("signIn.refused")} ${error.message}`;
    }
  });
  $("sign-out").addEventListener("click", async () => {
    await call("DELETE", "/console/session").catch(() => null);
    signedOut();
  });
  window.addEventListener("signed-out", signedOut);
  window.addEventListener("hashchange", route);
  try {
    signedIn(await call("GET", "/console/session"));
  } catch {
    signedOut();
  }
}

start();
