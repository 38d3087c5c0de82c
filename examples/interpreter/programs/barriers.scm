;; barriers: one test per kind of store the interpreter makes into a heap object, each arranged so
;; that the store loses an object unless its write barrier runs.
;;
;; How: with automatic collection off, (gc-collect) ends any cycle, `old` gets n new objects, and
;; (gc-step 1) starts a cycle: the roots are shaded, but nothing goes on marking until the cycle is
;; finished, so the objects in `old` stay unmarked. Each is then taken straight from `old` (on the
;; VM stack: no heap object is written on the way) and stored by the store under test into a
;; holder made during the cycle, which was born marked and is never scanned; then its place in
;; `old` is overwritten. Only the holder refers to it now, and only the holder's write barrier
;; told the collector: without the barrier, the (gc-collect) that ends the cycle frees it, and
;; (heap-check-reachable) finds a freed object among those reachable from the roots.
;; A stop-the-world heap has no cycle ((gc-step) does nothing there); the program prints the same.
;; The output-port test writes item-N.tmp and port.txt into the current directory.
(define (say . items) (for-each display items) (newline))

(define n 16)
(define old '())
(define keep (make-vector n #f))

(define (item-name k) (string-append "item-" (number->string k) ".tmp"))

;; The objects a test moves: strings, or one string in a list / vector / closure's environment.
(define (make-item kind k)
  (let ((s (item-name k)))
    (cond ((eq? kind 'string) s)
          ((eq? kind 'list) (list s))
          ((eq? kind 'vector) (vector s))
          (else (lambda () (lambda () s))))))  ; 'closure: a call makes a frame whose parent holds s

;; The cycle a test runs in: begun with the objects in `old` unmarked, ended by a full collection.
(define (begin-cycle kind)
  (gc-disable)
  (gc-collect)
  (set! old (map (lambda (k) (make-item kind k)) (iota n)))
  (gc-step 1))
(define (end-cycle)
  (set! old '())
  (gc-collect)
  (gc-enable)
  (heap-check-reachable))

;; (try name kind move get): (move k) returns a new holder of (list-ref old k); (get holder)
;; returns the string again.
(define (try name kind move get)
  (begin-cycle kind)
  (let move-all ((k 0))
    (when (< k n)
      (vector-set! keep k (move k))
      (set-car! (list-tail old k) #f)  ; now only the holder refers to the object
      (move-all (+ k 1))))
  (report name
          (let ((reachable (end-cycle)))
            (and (eq? reachable #t)
                 (let check ((k 0))
                   (cond ((= k n) #t)
                         ((equal? (get (vector-ref keep k)) (item-name k)) (check (+ k 1)))
                         (else #f)))))))

(define (report name ok)
  (vector-fill! keep #f)
  (say name ": " (if ok "ok" "LOST")))

(define (call f) (f))
(define (first v) (vector-ref v 0))
(define (second v) (vector-ref v 1))

(try "cons, car" 'string (lambda (k) (cons (list-ref old k) '())) car)
(try "cons, cdr" 'string (lambda (k) (cons 0 (list-ref old k))) cdr)
(try "set-car!" 'string (lambda (k) (let ((p (cons 0 0))) (set-car! p (list-ref old k)) p)) car)
(try "set-cdr!" 'string (lambda (k) (let ((p (cons 0 0))) (set-cdr! p (list-ref old k)) p)) cdr)
(try "vector-set!" 'string (lambda (k) (let ((v (make-vector 2 0))) (vector-set! v 1 (list-ref old k)) v)) second)
(try "make-vector fill" 'string (lambda (k) (make-vector 2 (list-ref old k))) second)
(try "vector" 'string (lambda (k) (vector 0 (list-ref old k))) second)
(try "vector-fill!" 'string (lambda (k) (let ((v (make-vector 2 0))) (vector-fill! v (list-ref old k)) v)) second)
(try "list->vector" 'list (lambda (k) (list->vector (list-ref old k))) first)
(try "vector-grow (bulk copy)" 'vector (lambda (k) (vector-grow (list-ref old k) 2)) first)
(try "frame: argument" 'string (lambda (k) ((lambda (x) (lambda () x)) (list-ref old k))) call)
(try "frame: let" 'string (lambda (k) (let ((x (list-ref old k))) (lambda () x))) call)
(try "frame: internal define" 'string (lambda (k) (define x (list-ref old k)) (lambda () x)) call)
(try "frame: set!" 'string (lambda (k) (let ((x #f)) (set! x (list-ref old k)) (lambda () x))) call)
(try "frame: parent" 'closure (lambda (k) ((list-ref old k))) call)
(try "guard variable" 'string (lambda (k) (guard (e (#t (lambda () e))) (raise (list-ref old k)))) call)
(try "error message" 'string (lambda (k) (guard (e (#t e)) (error (list-ref old k)))) error-object-message)
(try "hash-table-set! of a present key" 'string
     (lambda (k) (let ((t (make-hash-table))) (hash-table-set! t 'x 0) (hash-table-set! t 'x (list-ref old k)) t))
     (lambda (t) (hash-table-ref t 'x)))
(try "output port's path" 'string
     (lambda (k) (let ((port (open-output-file (list-ref old k)))) (close-port port) port))
     (lambda (port)  ; the path, read back from the port's written form: #<output-port "path" closed>
       (let ((out (open-output-file "port.txt")))
         (write port out)
         (close-port out)
         (let ((text (file->string "port.txt")))
           (substring text 15 (- (string-length text) 9))))))

;; A hash table made before the cycle grows during it: its entries move to a new bucket vector.
(define table (make-hash-table))
(begin-cycle 'string)
(let fill ((k 0))  ; 16 entries fit 8 buckets; the 17th (below) doubles them
  (when (< k n)
    (hash-table-set! table k (list-ref old k))
    (fill (+ k 1))))
(set! old '())
(gc-collect)
(begin-cycle 'string)
(hash-table-set! table n "one more")
(report "hash table growing"
        (and (eq? (end-cycle) #t)
             (let check ((k 0))
               (cond ((= k n) #t)
                     ((equal? (hash-table-ref table k) (item-name k)) (check (+ k 1)))
                     (else #f)))))

;; New symbols during a cycle: each is linked in front of its bucket's list, and enough of them
;; make the symbol table grow (it moves every symbol to a new bucket vector).
(define (symbol-names count)
  (let loop ((i 0) (names '()))
    (if (= i count) names (loop (+ i 1) (cons (string-append "fresh-symbol-" (number->string i)) names)))))
(define names (symbol-names 1200))
(begin-cycle 'string)
(for-each string->symbol names)
(report "new symbols, symbol table growing" (eq? (end-cycle) #t))

;; Top-level define and set! of globals whose symbols were read during the cycle (born marked).
(begin-cycle 'string)
(define global-defined-in-cycle (list-ref old 0))
(define global-set-in-cycle #f)
(set! global-set-in-cycle (list-ref old 1))
(set-car! old #f)
(set-car! (cdr old) #f)
(report "globals: define and set!"
        (and (eq? (end-cycle) #t)
             (equal? global-defined-in-cycle (item-name 0))
             (equal? global-set-in-cycle (item-name 1))))
(say "heap consistent: " (heap-verify))
