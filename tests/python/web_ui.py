"""Drives the master and Marathon web UIs in headless Chromium (Debian's chromium + chromedriver, through
selenium; nothing is downloaded).

Usage: web_ui.py <master-url> <marathon-url> <app-id> <artifacts-dir>

<master-url> may be a standby master: the page must find the leader itself. Prints one JSON line per step
(what the page showed) for the Rust test to check, and saves a screenshot per step into <artifacts-dir>.
"""

import json
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 90


def report(step, **fields):
    print(json.dumps({"step": step, **fields}), flush=True)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def main():
    master, marathon, app_id, artifacts = sys.argv[1:5]
    os.makedirs(artifacts, exist_ok=True)
    driver = browser()
    wait = WebDriverWait(driver, TIMEOUT)

    def shot(name):
        driver.save_screenshot(os.path.join(artifacts, name + ".png"))

    def rows(css):
        return driver.find_elements(By.CSS_SELECTOR, css)

    try:
        # Master UI, opened on the given master (a standby follows the leader).
        driver.get(master + "/")
        wait.until(lambda d: rows("#cluster #leader-pid") and rows("#resources .res"))
        notice = rows("#standby-notice")
        report("master-overview", leader=rows("#leader-pid")[0].text, standby_notice=bool(notice))
        shot("master-overview")

        driver.get(master + "/#/agents")
        wait.until(lambda d: len(rows("#agents tr[data-agent-id]")) >= 2)
        agents = [r.get_attribute("data-agent-id") for r in rows("#agents tr[data-agent-id]")]
        report("master-agents", agents=agents)
        shot("master-agents")

        driver.get(master + "/#/frameworks")
        wait.until(lambda d: rows('#frameworks tr[data-framework-name="marathon"]'))
        framework = rows('#frameworks tr[data-framework-name="marathon"]')[0].get_attribute("data-framework-id")
        report("master-frameworks", marathon=framework)
        shot("master-frameworks")

        driver.get(master + "/#/agents/" + agents[0])
        wait.until(lambda d: rows("#agent-tasks") and rows("#resources, .res"))
        shot("master-agent")

        # The sandbox of the app's task, with the live tail of its stdout.
        driver.get(master + "/#/tasks")
        safe = app_id.strip("/").replace("/", "_") + "."
        link = wait.until(
            lambda d: next(
                (
                    a
                    for r in rows("#active-tasks tr[data-task-id]")
                    if r.get_attribute("data-task-id").startswith(safe)
                    for a in r.find_elements(By.LINK_TEXT, "Sandbox")
                ),
                None,
            )
        )
        link.click()
        wait.until(lambda d: rows('#files tr[data-file="stdout"]'))
        wait.until(lambda d: "hello-ui" in (rows("#log")[0].text if rows("#log") else ""))
        report("master-sandbox", files=[r.get_attribute("data-file") for r in rows("#files tr[data-file]")])
        shot("master-sandbox")

        # Marathon UI: the app list, the app page, scaling from the page's form.
        driver.get(marathon + "/")
        row_css = 'tr[data-app-id="%s"]' % app_id
        wait.until(lambda d: rows(row_css + ' [data-status="Running"]'))
        report("marathon-apps", status="Running", counts=rows(row_css + " .counts")[0].text)
        shot("marathon-apps")

        rows(row_css + " a")[0].click()
        wait.until(lambda d: rows('.task-row[data-state="TASK_RUNNING"]'))
        before = [r.get_attribute("data-task-id") for r in rows(".task-row")]
        report("marathon-app", tasks=before)
        shot("marathon-app")

        scale = wait.until(EC.element_to_be_clickable((By.ID, "scale-input")))
        scale.clear()
        scale.send_keys("2")
        driver.find_element(By.ID, "scale-button").click()
        wait.until(lambda d: "Scaling to 2" in d.find_element(By.ID, "action-result").text)
        report("marathon-scaled", instances=2)
        wait.until(lambda d: len(rows('.task-row[data-state="TASK_RUNNING"]')) == 2)
        after = [r.get_attribute("data-task-id") for r in rows(".task-row")]
        report("marathon-app-two-tasks", tasks=after)
        shot("marathon-app-scaled")

        # The create form shows the API's validation errors inline.
        driver.get(marathon + "/#/new")
        field = wait.until(EC.element_to_be_clickable((By.ID, "f-id")))
        field.send_keys("Not A Valid Id!")
        driver.find_element(By.ID, "f-cmd").send_keys("sleep 100")
        driver.find_element(By.ID, "submit-app").click()
        error = wait.until(lambda d: rows("#form-result .error"))[0]
        report("marathon-create-error", status=error.get_attribute("data-status"), text=error.text)
        shot("marathon-create-error")

        # Fixed, the form creates the app (env and a constraint from the form's rows) and opens its page.
        field.clear()
        field.send_keys("web-ui-form")
        driver.find_element(By.ID, "f-env").send_keys("GREETING=hi")
        driver.find_element(By.XPATH, "//fieldset[legend[text()='Constraints']]//button[text()='Add']").click()
        driver.find_element(By.CSS_SELECTOR, '#constraints-rows [data-key="field"]').send_keys("hostname")
        driver.find_element(By.ID, "submit-app").click()
        wait.until(lambda d: d.current_url.endswith("#/apps/web-ui-form") and rows("#scale-input"))
        report("marathon-created", app="/web-ui-form")

        # Edit it: the form loads the definition, survives a round trip through JSON mode, and PUTs the change.
        driver.find_element(By.ID, "edit-button").click()
        wait.until(lambda d: d.find_element(By.ID, "f-cmd").get_attribute("value") == "sleep 100")
        driver.find_element(By.ID, "json-mode").click()
        assert '"GREETING": "hi"' in driver.find_element(By.ID, "f-json").get_attribute("value")
        driver.find_element(By.ID, "json-mode").click()
        mem = wait.until(EC.element_to_be_clickable((By.ID, "f-mem")))
        mem.clear()
        mem.send_keys("24")
        shot("marathon-edit")
        driver.find_element(By.ID, "submit-app").click()
        wait.until(lambda d: d.current_url.endswith("#/apps/web-ui-form") and rows("#scale-input"))
        report("marathon-edited", app="/web-ui-form", mem=24)

        driver.get(marathon + "/#/deployments")
        wait.until(lambda d: rows("#deployments tr"))
        shot("marathon-deployments")

        # The API console lists the operations and runs one.
        driver.get(marathon + "/api-console/index.html")
        wait.until(lambda d: len(rows("details.op")) > 20)
        op = driver.find_element(By.ID, "getV2Info")
        op.find_element(By.TAG_NAME, "summary").click()
        op.find_element(By.XPATH, ".//button[text()='Try it']").click()
        wait.until(lambda d: any("frameworkId" in r.text for r in op.find_elements(By.CSS_SELECTOR, "pre.response")))
        driver.execute_script("arguments[0].scrollIntoView()", op)
        report("api-console", operations=len(rows("details.op")))
        shot("api-console")
    except Exception:
        shot("failure")
        report("failure", url=driver.current_url, page=driver.find_element(By.TAG_NAME, "body").text[:2000])
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
