;; files: output ports are host resources. with-output-file closes its port when the body ends,
;; normally or by an error; a port the program forgets is closed by its finaliser when the
;; collector finds it unreachable, or at exit (when every object dies). The test then checks that
;; forgotten.txt holds everything written to it, which needs the finaliser's close to flush it.
(define (say . items) (for-each display items) (newline))

(with-output-file (out "greeting.txt")
  (display "hello from uheap-scheme" out)
  (newline out)
  (say "inside with-output-file, open files: " (open-file-count)))
(say "after it, open files: " (open-file-count))
(say "greeting.txt: " (file->string "greeting.txt"))

;; An error inside the body still closes the port, and the error reaches the guard.
(define escaped-port #f)
(say "error inside the body: "
     (guard (e (#t (error-object-message e)))
       (with-output-file (out "partial.txt")
         (set! escaped-port out)
         (display "written before the error" out)
         (error "something went wrong"))))
(say "port closed by the error: " (not (port-open? escaped-port)) ", open files: " (open-file-count))
(say "partial.txt: " (file->string "partial.txt"))

;; A forgotten port: opened, written, never closed.
(define (forget-a-port)
  (let ((port (open-output-file "forgotten.txt")))
    (display "written by a port the program never closed" port)
    (newline port)))
;; Automatic collection is off until the check, so that no collection can come before it.
(gc-disable)
(forget-a-port)
(say "forgotten port still open before any collection: " (= (open-file-count) 1))
(gc-enable)
(gc-collect)
(say "done; the finaliser closes it by exit at the latest")
