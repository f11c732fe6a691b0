// Jenkins -> SIEM audit hook. Copy to $JENKINS_HOME/init.groovy.d/siem-audit.groovy and restart Jenkins
// (or paste once into Manage Jenkins > Script Console to try it without a restart).
//
// Posts one JSON object per security-relevant event to ingest's /v1/jenkins:
//   {"kind": "audit", "id": uuid, "action": ..., "user": ..., "source_ip": ..., "target": ..., "time": epoch ms,
//    "jenkins_url": ..., "details": {...}}
// actions: login, login_failure, logout, job_created, job_deleted, job_config_changed, credentials_changed,
//          system_config_changed, script_console
//
// Configuration (environment of the Jenkins controller):
//   SIEM_INGEST_URL         e.g. https://siem-ingest.siem.svc:8080/v1/jenkins
//   SIEM_INGEST_TOKEN_FILE  a file holding one of ingest's SIEM_INGEST_JENKINS_TOKENS (or SIEM_INGEST_TOKEN)
//
// Sending never blocks a request thread: events go through a bounded queue to one sender thread, which
// retries a refused or failed post (429/503/network) with backoff and keeps the event's id, so a retry
// is no new event in the SIEM. Tested against the API of Jenkins 2.479+ (Jakarta servlet); for older
// controllers replace `jakarta.servlet` with `javax.servlet` below.

import groovy.json.JsonOutput
import hudson.XmlFile
import hudson.model.Item
import hudson.model.Saveable
import hudson.model.User
import hudson.model.listeners.ItemListener
import hudson.model.listeners.SaveableListener
import hudson.util.PluginServletFilter
import jakarta.servlet.Filter
import jakarta.servlet.FilterChain
import jakarta.servlet.FilterConfig
import jakarta.servlet.ServletRequest
import jakarta.servlet.ServletResponse
import jakarta.servlet.http.HttpServletRequest
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.MessageDigest
import java.time.Duration
import java.util.concurrent.ArrayBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.logging.Logger
import jenkins.model.Jenkins
import jenkins.security.SecurityListener
import org.kohsuke.stapler.Stapler

class SiemAudit {
    static final Logger LOG = Logger.getLogger("siem-audit")
    static final ArrayBlockingQueue<String> QUEUE = new ArrayBlockingQueue<>(10000)
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    static final String URL = System.getenv("SIEM_INGEST_URL")
    static Thread sender

    static String token() {
        def file = System.getenv("SIEM_INGEST_TOKEN_FILE")
        return file ? new File(file).text.trim() : (System.getenv("SIEM_INGEST_TOKEN") ?: "")
    }

    static String sourceIp() {
        try {
            def request = Stapler.getCurrentRequest2()
            return request?.getRemoteAddr()
        } catch (Throwable ignored) {
            return null
        }
    }

    static void send(String action, String target, Map details = [:], String user = null) {
        def event = [kind: "audit", id: UUID.randomUUID().toString(), action: action,
                     user: user ?: User.current()?.getId(), source_ip: sourceIp(), target: target,
                     time: System.currentTimeMillis(), jenkins_url: Jenkins.get().getRootUrl(), details: details]
        if (!QUEUE.offer(JsonOutput.toJson(event.findAll { it.value != null }))) {
            LOG.warning("siem-audit queue full, event dropped: " + action)
        }
    }

    static void start() {
        if (!URL) {
            LOG.warning("SIEM_INGEST_URL is not set: Jenkins audit events are not sent")
            return
        }
        sender = Thread.startDaemon("siem-audit-sender") {
            while (true) {
                String body = QUEUE.take()
                for (int attempt = 0; attempt < 6; attempt++) {
                    try {
                        def request = HttpRequest.newBuilder(URI.create(URL)).timeout(Duration.ofSeconds(10))
                            .header("Content-Type", "application/json")
                            .header("Authorization", "Bearer " + token())
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build()
                        int status = CLIENT.send(request, HttpResponse.BodyHandlers.discarding()).statusCode()
                        if (status < 300) break
                        if (status != 429 && status < 500) {
                            LOG.warning("siem-audit event refused with HTTP " + status)
                            break
                        }
                    } catch (IOException e) {
                        LOG.fine("siem-audit post failed: " + e)
                    }
                    TimeUnit.SECONDS.sleep(Math.min(60, 1L << attempt))
                }
            }
        }
    }
}

class SiemSecurityListener extends SecurityListener {
    @Override
    protected void loggedIn(String username) { SiemAudit.send("login", "/login", [:], username) }

    @Override
    protected void failedToLogIn(String username) {
        SiemAudit.send("login_failure", "/login", [method: "form"], username)
    }

    @Override
    protected void failedToAuthenticate(String username) {
        SiemAudit.send("login_failure", "/", [method: "http"], username)
    }

    @Override
    protected void loggedOut(String username) { SiemAudit.send("logout", "/logout", [:], username) }
}

class SiemSaveableListener extends SaveableListener {
    @Override
    void onChange(Saveable o, XmlFile file) {
        if (o instanceof Item) {
            SiemAudit.send("job_config_changed", ((Item) o).getUrl(), [file: file?.getFile()?.getName()])
        } else if (o instanceof Jenkins) {
            SiemAudit.send("system_config_changed", "/manage/", [file: file?.getFile()?.getName()])
        } else if (o.getClass().getName().contains("Credentials")) {
            SiemAudit.send("credentials_changed", "/manage/credentials/", [store: o.getClass().getName()])
        }
    }
}

class SiemItemListener extends ItemListener {
    @Override
    void onCreated(Item item) { SiemAudit.send("job_created", item.getUrl()) }

    @Override
    void onDeleted(Item item) { SiemAudit.send("job_deleted", item.getUrl()) }
}

// /script and /scriptText (also under /computer/NAME/): who ran a script, and what (hash and a prefix).
class SiemScriptConsoleFilter implements Filter {
    void init(FilterConfig config) {}

    void destroy() {}

    void doFilter(ServletRequest request, ServletResponse response, FilterChain chain) {
        if (request instanceof HttpServletRequest && request.getMethod() == "POST"
                && request.getRequestURI() ==~ /.*\/script(Text)?\/?$/) {
            String script = request.getParameter("script") ?: ""
            String digest = MessageDigest.getInstance("SHA-256").digest(script.getBytes("UTF-8")).encodeHex().toString()
            SiemAudit.send("script_console", request.getRequestURI(),
                           [script_sha256: digest, script_length: script.length(), script_head: script.take(2000)])
        }
        chain.doFilter(request, response)
    }
}

def jenkins = Jenkins.get()
jenkins.getExtensionList(SecurityListener).add(new SiemSecurityListener())
jenkins.getExtensionList(SaveableListener).add(new SiemSaveableListener())
jenkins.getExtensionList(ItemListener).add(new SiemItemListener())
PluginServletFilter.addFilter(new SiemScriptConsoleFilter())
SiemAudit.start()
