;; snapshot-signal: a program to send SIGUSR1 to (run_snapshot_signal.sh, interp.profile_snapshot_signal).
;; It writes the file "ready" once it runs (the SIGUSR1 handler is installed before any program
;; runs; stdout to a pipe is not flushed until exit, so a file says it), then allocates garbage in
;; rounds until the file "stop" appears, which the test writes once it has seen the snapshot.
;; The rounds are capped so that it ends on its own (about 10 s in a Debug build) if nobody says stop.
(define (say . items) (for-each display items) (newline))

(define (garbage n)
  (let loop ((i 0) (acc '()))
    (if (< i n) (loop (+ i 1) (cons i acc)) (length acc))))

(with-output-file (port "ready") (display "ready" port))
(define rounds
  (let loop ((round 0))
    (garbage 200)
    (if (or (= round 15000) (file->string "stop")) round (loop (+ round 1)))))
(say "stopped: " (< rounds 15000))
